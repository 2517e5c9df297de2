"""``python -m leptonlab``: the ``leptonlab`` command (see ``leptonlab.cli``)."""

if __name__ == "__main__":
    from leptonlab.cli import main

    raise SystemExit(main())
