"""The ledger (台账) as sheets: what a scope did over some local days, as plain values.

`data` reads the rows (async, in partitions), one module per sheet turns them into a `Sheet`
(`orders_sheet`, `events_sheet`, `volunteers_sheet`, `notices_sheet`, `receipts_sheet`,
`care_sheet`, `audit_sheet`), `book` puts the sheets together. Labels are gettext msgids
(`labels`: the words of the cells), written in the reader's language (Chinese by default).
"""
