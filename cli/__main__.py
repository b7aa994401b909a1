"""`python -m cli`: the same as the `paotui` console script."""

from cli.main import main

raise SystemExit(main())
