# The constant code the exprscope JupyterLab extension runs silently in every Python kernel it
# attaches to (on start, restart and kernel change): never imported, read as text by
# exprscope.kernel (PYTHON_SETUP_SNIPPET) and by src/bridge/setup.ts at build time.
# It prints nothing, leaves no names in the user namespace, and when exprscope cannot be
# imported registers a fallback target answering every request with not_installed.
def _exprscope_setup():
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from exprscope.kernel import register
    except Exception as error:
        reason = type(error).__name__ + ": " + str(error)

        def open_comm(comm, open_msg):
            def reply(msg):
                data = msg["content"].get("data")
                comm.send(
                    {
                        "id": data.get("id") if isinstance(data, dict) else None,
                        "ok": False,
                        "error": {
                            "code": "not_installed",
                            "message": "The exprscope package cannot be imported in this kernel ("
                            + reason
                            + "). Install it in the kernel's environment.",
                            "details": {"reason": reason},
                        },
                    }
                )

            comm.on_msg(reply)

        get_ipython().kernel.comm_manager.register_target("exprscope", open_comm)  # noqa: F821
    else:
        register()


try:
    _exprscope_setup()
finally:
    del _exprscope_setup
