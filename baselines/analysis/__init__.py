"""What the records say: summaries over seeds, growth fits, and the theory they are set against."""
