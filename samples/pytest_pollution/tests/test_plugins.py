from inventory import HANDLERS, register


def test_register_handler():
    register(print)                              # nothing takes it off again


def test_plugin_dir(plugin_dir):
    assert plugin_dir.exists()


def test_no_handlers_yet():
    assert HANDLERS == []
