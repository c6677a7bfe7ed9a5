from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    """Keyset (cursor) pagination: a page deep in a long list costs what the first page costs, and rows
    added while a client pages through do not shift or repeat what it sees. Views set ``ordering`` to a
    unique, immutable key (a code or an id)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
