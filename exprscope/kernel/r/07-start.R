# exprscope R helper (see 00-env.R): attach the notebook functions and register the comm target.
.exprscope$attach_api()
.exprscope$register()
