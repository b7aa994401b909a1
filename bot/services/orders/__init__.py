"""Orders, in these rooms: `drafts` (the form in progress, and the order it becomes; the
questions are `form`'s), `routing` (who is told of a task, and its posts in the groups),
`transitions` (every status change, through one `transition()`), `views` (loading, `OrderView`,
the lists), `texts` (what each audience is told of an order), `kinds` (the steps each kind of
errand goes through) and `cards` (the resident's one live card of an order, edited at each
change). Import the one you need."""
