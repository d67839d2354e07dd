# exprscope R helper (see 00-env.R): request arguments.
local({
  # -- request arguments (parsed by jsonlite::fromJSON, so JSON arrays arrive as vectors) ------

  is_string <- function(x) is.character(x) && length(x) == 1L && !is.na(x)

  is_json_object <- function(x) {
    is.list(x) && !is.data.frame(x) && (length(x) == 0L || !is.null(names(x)))
  }

  request_id <- function(request) {
    if (!is_json_object(request)) {
      return(NULL_JSON)
    }
    id <- request[["id"]]
    if (is_string(id)) {
      return(id)
    }
    if (is.numeric(id) && length(id) == 1L && !is.na(id) && id == round(id) && abs(id) < 2^31) {
      return(as.integer(id))
    }
    NULL_JSON
  }

  str_arg <- function(args, name) {
    value <- args[[name]]
    if (!is_string(value)) bad_argument(name, "a string")
    value
  }

  optional_str_arg <- function(args, name) {
    if (is.null(args[[name]])) NULL else str_arg(args, name)
  }

  str_list_arg <- function(args, name, optional = FALSE) {
    value <- args[[name]]
    if (is.null(value) && optional) {
      return(character(0))
    }
    if (is.list(value) && length(value) == 0L && !is.data.frame(value)) {
      return(character(0)) # an empty JSON array
    }
    if (!is.character(value) || anyNA(value)) bad_argument(name, "a list of strings")
    value
  }

  bool_arg <- function(args, name) {
    value <- args[[name]]
    if (is.null(value)) {
      return(FALSE)
    }
    if (!is.logical(value) || length(value) != 1L || is.na(value)) {
      bad_argument(name, "true or false")
    }
    value
  }

  int_arg <- function(args, name, default, minimum, maximum) {
    value <- args[[name]]
    if (is.null(value)) {
      return(default)
    }
    if (!is.numeric(value) || length(value) != 1L || is.na(value) || value != round(value) ||
      value < minimum || value > maximum) {
      bad_argument(name, sprintf("an integer from %d to %d", minimum, maximum))
    }
    as.integer(value)
  }
}, envir = .exprscope)
