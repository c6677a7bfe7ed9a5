"""The dashboard (issue 10): grievance figures read from a daily summary that Celery keeps, dispute figures
read live, each as a chart with its table and an Excel export.

- ``models``: the summary rows, the refresh cursor, the days waiting to be refreshed, full rebuild jobs;
- ``scope``: who sees which agencies' figures;
- ``figures``: the grievance figures from the summary (the same meaning as ``selectors.grievance_stats``);
- ``charts``: each chart's data, one table for the page, its chart and its Excel export;
- ``excel``: the export;
- ``forms``: the filters.

The summary is written by ``grievances.services.summary``.
"""
