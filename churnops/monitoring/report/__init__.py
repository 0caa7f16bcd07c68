"""Report: what the metric tables and the analysis say, as files and short views.

The HTML/Markdown report with its plots, and the small tables `churnops monitor show` prints.
"""
