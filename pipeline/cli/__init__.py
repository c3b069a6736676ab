"""The ``blankett`` command line (typer): ``main`` holds the app, ``service`` the service
and user commands, ``common`` what they share."""
