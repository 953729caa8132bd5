from rest_framework.pagination import PageNumberPagination


class StablePageNumberPagination(PageNumberPagination):
    """Numbered pages over a total order (every list view orders by a unique key last)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
