variable "buckets" {
  description = "Lake area => bucket name; usually module.catalog.buckets."
  type        = map(string)

  validation {
    condition     = alltrue([for name in values(var.buckets) : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", name))])
    error_message = "Bucket names must be 3-63 lowercase letters, digits, '.' or '-'."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` remove buckets that still hold objects, every version included (true only for throw-away local data)."
  type        = bool
  default     = false
}

variable "endpoint_url" {
  description = "S3 API endpoint the buckets live on, e.g. http://127.0.0.1:9000 (Settings.s3_endpoint)."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+/?$", var.endpoint_url))
    error_message = "endpoint_url must be http(s)://host[:port]."
  }
}

variable "region" {
  description = "Region the requests are signed for (Settings.s3.region)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = length(var.region) > 0
    error_message = "region must not be empty."
  }
}

variable "access_key" {
  description = "S3 access key id (Settings.s3.access_key). The secret key is never an input: the CLI reads MARKETPULSE_S3__SECRET_KEY from the environment terraform runs in."
  type        = string

  validation {
    condition     = length(var.access_key) > 0
    error_message = "access_key must not be empty."
  }
}

variable "cli" {
  description = "argv prefix that runs the MarketPulse CLI, e.g. [\"marketpulse\"] or [\"/path/python\", \"-m\", \"marketpulse\"]."
  type        = list(string)
  default     = ["marketpulse"]

  validation {
    condition     = length(var.cli) > 0
    error_message = "cli must name at least the program to run."
  }
}
