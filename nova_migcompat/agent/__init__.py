"""The compute-host side: devices, the target-side check, the reporter."""
