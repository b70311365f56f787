from tests.loop.conftest import Loop, loop  # noqa: F401  (the same fixture: forge, scripted model, instance)
