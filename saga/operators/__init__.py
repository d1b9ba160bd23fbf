"""The library behind the operators' commands: find and inspect sagas, act on them, send back
what was parked or dead-lettered. Scripts and web pages call it as the CLI does."""
