"""Live control of a desktop over VNC: capture → detect → act like a person."""

from deskvision.live.agent import Agent, StillScreen, Stopped
from deskvision.live.human import HumanConfig
from deskvision.live.vnc import LiveError, VncAddress, VncConnection

__all__ = ["Agent", "HumanConfig", "LiveError", "StillScreen", "Stopped", "VncAddress", "VncConnection"]
