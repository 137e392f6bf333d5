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
    public   = bool
    # Port of the load balancer's listener for a public service (unused otherwise).
    listener_port = number
  }))
  default = {
    ingest    = { command = ["marketpulse", "ingest", "live", "alpaca"], port = 9108, cpu = 512, memory = 1024, replicas = 1, public = false, listener_port = 0 }
    api       = { command = ["marketpulse", "serve", "api"], port = 8000, cpu = 512, memory = 1024, replicas = 2, public = true, listener_port = 443 }
    dashboard = { command = ["marketpulse", "serve", "dashboard"], port = 8050, cpu = 256, memory = 512, replicas = 1, public = true, listener_port = 8443 }
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

variable "secrets" {
  description = "Environment variable => ECS valueFrom of a Secrets Manager value (modules/secrets/aws ecs_secrets)."
  type        = map(string)

  validation {
    condition     = alltrue([for k, v in var.secrets : startswith(k, "MARKETPULSE_") && startswith(v, "arn:")])
    error_message = "secrets maps MARKETPULSE_* names to Secrets Manager ARNs."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer's target groups."
  type        = string

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC id."
  }
}

variable "vpc_cidr" {
  description = "Address range of the VPC (the load balancer may send only there)."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a CIDR."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets of the load balancer (two or more zones)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "Give at least two public subnets."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS listeners; empty serves plain HTTP (only for a first test)."
  type        = string
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || startswith(var.certificate_arn, "arn:")
    error_message = "certificate_arn must be empty or an ACM certificate ARN."
  }
}

variable "allowed_cidrs" {
  description = "Who may reach the public listeners."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_cidrs must be CIDRs."
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
