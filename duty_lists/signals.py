"""What the registry announces to the apps that depend on it (they listen; it does not know them)."""

from django.dispatch import Signal

# Sent after the transaction that published an edition commits. Arguments: edition.
edition_published = Signal()
