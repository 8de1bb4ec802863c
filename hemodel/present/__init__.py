"""Presentation layer: plots (matplotlib), formatted tables and the HTML/Excel report.

Takes results and analysis tables; every plot and table states its units and currency.
"""
