"""TEMPORARY until the unlearning helper writes it."""
def spans_command() -> None:
    """Show selected spans."""
