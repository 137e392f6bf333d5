variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "release_label" {
  description = "EMR release (its Spark version must match the jobs' pyspark)."
  type        = string
  default     = "emr-7.9.0"

  validation {
    condition     = startswith(var.release_label, "emr-")
    error_message = "release_label must be an EMR release label (emr-*)."
  }
}

variable "max_vcpu" {
  description = "Ceiling on the application's vCPUs (memory follows at 4 GB per vCPU)."
  type        = number
  default     = 16

  validation {
    condition     = var.max_vcpu >= 2
    error_message = "max_vcpu must be at least 2."
  }
}

variable "subnet_ids" {
  description = "Private subnet ids (two or more availability zones)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least two subnets in different availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups attached to the service's network interfaces."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "Give at least one security group."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0 && length(k) <= 63])
    error_message = "Tags keys must be 1-63 characters."
  }
}
