variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "image" {
  description = "Container image of MarketPulse (services/Dockerfile), e.g. <account>.dkr.ecr.<region>.amazonaws.com/marketpulse:1.0."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must be set."
  }
}

variable "services" {
  description = "Service name => command, port, size and replicas."
  type = map(object({
    command  = list(string)
    port     = number
    cpu      = number
    memory   = number
    replicas = number
  }))
  default = {
    ingest    = { command = ["marketpulse", "ingest", "live", "alpaca"], port = 9108, cpu = 512, memory = 1024, replicas = 1 }
    api       = { command = ["marketpulse", "serve", "api"], port = 8000, cpu = 512, memory = 1024, replicas = 2 }
    dashboard = { command = ["marketpulse", "serve", "dashboard"], port = 8050, cpu = 256, memory = 512, replicas = 1 }
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.replicas >= 0 && s.port > 0 && s.port < 65536])
    error_message = "Every service needs replicas >= 0 and a TCP port."
  }
}

variable "app_env" {
  description = "MARKETPULSE_* variables of every container (the env root's app_env output)."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.app_env) : startswith(k, "MARKETPULSE_")])
    error_message = "app_env holds only MARKETPULSE_* variables."
  }
}

variable "task_role_arn" {
  description = "Role the tasks run as (and pull images and write logs with)."
  type        = string

  validation {
    condition     = startswith(var.task_role_arn, "arn:")
    error_message = "task_role_arn must be an ARN."
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
