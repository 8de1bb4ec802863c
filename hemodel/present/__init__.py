"""Presentation layer: plots (matplotlib), formatted tables, the HTML/Excel report and the
generated reference of scenario fields and output columns.

Takes results and analysis tables; every plot and table states its units and currency.
"""
