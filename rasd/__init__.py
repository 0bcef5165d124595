"""rasd (رصد): structured data from Arabic conflict news."""

__version__ = "0.1.0"
