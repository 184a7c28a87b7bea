"""Text read in Arrow's buffers by numpy: each helper against the plain rule it stands for."""

import pyarrow as pa
from hypothesis import example, given
from hypothesis import strategies as st

from gedflow.formats.arrowtext import starts_with_any


@given(st.lists(st.one_of(st.none(), st.text(st.sampled_from(list("=+a-é")), max_size=3)),
                max_size=20))
@example(["a", "", None])  # empty values at the end: no first byte to read past the data
def test_starts_with_any_is_the_first_characters(values: list[str | None]) -> None:
    """Whatever the values, empty or missing ones included, and with the array sliced (an
    offset into its buffers)."""
    array = pa.array(["=x", *values], pa.large_string()).slice(1)
    assert starts_with_any(array, b"=+") == any(v[:1] in ("=", "+") for v in values if v)
