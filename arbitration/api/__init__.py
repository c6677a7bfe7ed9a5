"""The arbitration REST API: /api/v1/disputes/ (file, read, and one POST endpoint per step of the ladder) and
/api/v1/rulings/ (public once issued, unless marked internal). Every write calls the same service as the
browser; what a caller may not see, they cannot reach (404)."""
