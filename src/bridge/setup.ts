/**
 * Constant setup snippets, one per kernel language. They only import the
 * kernel package and register the comm target: user input never becomes
 * part of executed code (it travels as data inside comm messages).
 *
 * The Python snippet must equal `exprscope.kernel.PYTHON_SETUP_SNIPPET`; a
 * Python test extracts it from between the marker lines below, so keep it a
 * raw template without interpolation.
 */

// BEGIN PYTHON SETUP
export const PYTHON_SETUP_SNIPPET = String.raw`def _exprscope_setup():
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
                comm.send({
                    "id": data.get("id") if isinstance(data, dict) else None,
                    "ok": False,
                    "error": {
                        "code": "not_installed",
                        "message": "The exprscope package cannot be imported in this kernel ("
                        + reason + "). Install it in the kernel's environment.",
                        "details": {"reason": reason},
                    },
                })

            comm.on_msg(reply)

        get_ipython().kernel.comm_manager.register_target("exprscope", open_comm)
    else:
        register()


try:
    _exprscope_setup()
finally:
    del _exprscope_setup
`;
// END PYTHON SETUP

/** Setup snippet per `language_info.name` (lower case). */
const SETUP_SNIPPETS: ReadonlyMap<string, string> = new Map([
  ['python', PYTHON_SETUP_SNIPPET]
]);

/** The setup snippet for a kernel language, or null if unsupported. */
export function setupSnippetFor(language: string): string | null {
  return SETUP_SNIPPETS.get(language.trim().toLowerCase()) ?? null;
}
