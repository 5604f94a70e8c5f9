from indw.cli import main

raise SystemExit(main())
