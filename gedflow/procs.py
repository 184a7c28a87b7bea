"""Processes on this machine."""

from __future__ import annotations

import os

import psutil


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists here (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def started_after(pid: int, moment: float) -> bool:
    """Whether the process now holding `pid` started after `moment` (epoch seconds): then it
    is not the process that held the pid at that moment (the pid was reused)."""
    try:
        return psutil.Process(pid).create_time() > moment + 1.0  # create_time: 10 ms steps
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
