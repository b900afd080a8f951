"""Great Expectations suites as code: landing checks on what arrives from outside.

`suites` builds one ExpectationSuite per landing table; `runner.validate_landing` runs them on the
warehouse with an ephemeral context and returns a report a person can read.
"""

from expectations.runner import ValidationFailed, ValidationReport, validate_landing

__all__ = ["ValidationFailed", "ValidationReport", "validate_landing"]
