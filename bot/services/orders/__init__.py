"""Orders, in four rooms: `drafts` (the form in progress, and the order it becomes; the
questions are `form`'s), `routing` (who is told of a task, and its posts in the groups),
`transitions` (every status change, through one `transition()`), `views` (loading, `OrderView`,
the lists), and `texts` (what each audience is told of an order). Import the one you need."""
