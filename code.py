"""Thruway: the same file runs on the board and in the simulator."""

from firmware import app

app.run()
