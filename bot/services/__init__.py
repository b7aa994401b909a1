"""Services: plain values in, plain results out; they never commit (the caller's unit of work
does)."""
