variable "buckets" {
  description = "Lake area => bucket name; usually module.catalog.buckets."
  type        = map(string)

  validation {
    condition     = alltrue([for name in values(var.buckets) : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", name))])
    error_message = "Bucket names must be 3-63 lowercase letters, digits, '.' or '-'."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` remove buckets that still hold objects (true only for throw-away local data)."
  type        = bool
  default     = false
}
