"""The demo (development only): `flask demo seed` and `flask demo pay` against the emulator.

`scenario.py` seeds the demo merchant through the same services the API uses and plays a
customer paying it; `cli.py` is the two commands. The app's layers never import this
package: `cli.init_app` adds its commands.
"""
