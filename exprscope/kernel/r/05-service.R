# exprscope R helper (see 00-env.R): dispatch, replies and the comm target.
local({
  # -- dispatch and replies ------------------------------------------------------------------

  parse_request <- function(request) {
    if (!is_json_object(request)) protocol_error("bad_request", "A request must be a JSON object.")
    if (is.na(request_id(request))[1L]) {
      protocol_error("bad_request", "The request has no 'id' (a string).")
    }
    op <- request[["op"]]
    if (!is_string(op)) protocol_error("bad_request", "The request has no 'op' (a string).")
    if (!op %in% names(OPS)) {
      protocol_error(
        "unknown_op",
        sprintf("Unknown op %s; known: %s.", quoted(op), paste(names(OPS), collapse = ", ")),
        list(op = op)
      )
    }
    args <- request[["args"]]
    if (is.null(args)) args <- list()
    if (!is_json_object(args)) bad_argument("args", "an object")
    list(op = op, args = args)
  }

  format_calls <- function(calls) {
    lines <- vapply(calls, function(call) {
      paste(deparse(call, width.cutoff = 200L, nlines = 1L), collapse = "")
    }, "")
    paste(utils::tail(lines, 25L), collapse = NEWLINE)
  }

  error_reply <- function(id, code, message, details = NULL) {
    # Messages quote what was sent (e.g. a 100k-character name): keep both ends, as Python.
    if (nchar(message) > MAX_MESSAGE_CHARS) {
      message <- paste(
        substr(message, 1L, 600L),
        substr(message, nchar(message) - 299L, nchar(message)),
        sep = " … "
      )
    }
    error <- list(code = code, message = message)
    if (length(details)) error$details <- details
    list(id = id, ok = FALSE, error = error)
  }

  # Answer one request with exactly one reply, whatever happens.
  handle <- function(comm, request) {
    id <- request_id(request)
    calls <- NULL
    outcome <- tryCatch(
      withCallingHandlers(
        {
          parsed <- parse_request(request)
          answer <- OPS[[parsed$op]](parsed$args)
          if (!is.null(answer$columns)) {
            encoded <- encode_columns(answer$columns)
            answer$result$payload <- "columns"
            answer$result$columns <- encoded$descriptors
            answer$bytes <- encoded$bytes
          }
          # A result that cannot be serialised must become an error reply here.
          jsonlite::toJSON(answer$result, auto_unbox = TRUE)
          answer
        },
        warning = function(w) invokeRestart("muffleWarning"),
        error = function(e) if (!inherits(e, "exprscope_error")) calls <<- sys.calls()
      ),
      exprscope_error = function(e) error_reply(id, e$code, conditionMessage(e), e$details),
      error = function(e) {
        error_reply(
          id, "internal", paste0(class(e)[1L], ": ", conditionMessage(e)),
          list(traceback = format_calls(calls))
        )
      }
    )
    if (!is.null(outcome[["error"]])) {
      comm$send(outcome)
      return(invisible())
    }
    if (is.null(outcome$bytes)) {
      comm$send(list(id = id, ok = TRUE, part = 0L, parts = 1L, result = outcome$result))
      return(invisible())
    }
    bytes <- outcome$bytes
    starts <- seq(1, max(length(bytes), 1), by = MAX_CHUNK_BYTES)
    for (part in seq_along(starts)) {
      end <- min(length(bytes), starts[part] + MAX_CHUNK_BYTES - 1)
      slice <- if (length(bytes)) bytes[starts[part]:end] else raw(0)
      message <- list(id = id, ok = TRUE, part = part - 1L, parts = length(starts))
      if (part == 1L) message$result <- outcome$result
      # jsonlite wraps base64 lines; the newlines are only bulk.
      message$b64 <- gsub(NEWLINE, "", jsonlite::base64_enc(slice), fixed = TRUE)
      comm$send(message)
    }
    invisible()
  }

  open_comm <- function(comm, data) {
    comm$on_msg(function(msg) handle(comm, msg))
  }

  # Register the comm target; outside IRkernel (e.g. sourced by tests) do nothing.
  register <- function() {
    manager <- if (isNamespaceLoaded("IRkernel")) IRkernel::comm_manager() else NULL
    if (is.null(manager)) {
      return(invisible(FALSE))
    }
    manager$register_target(TARGET, open_comm)
    invisible(TRUE)
  }
}, envir = .exprscope)
