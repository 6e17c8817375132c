from operators.helpers import sandbox, sb  # noqa: F401
