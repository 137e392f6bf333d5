variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
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

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.35."
  }
}

variable "instance_type" {
  description = "Worker instance type (Spark driver + executors, Airflow)."
  type        = string
  default     = "m7i.xlarge"

  validation {
    condition     = can(regex("^[a-z0-9]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be an EC2 instance type."
  }
}

variable "node_count" {
  description = "Workers (the group may grow to twice this)."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 2
    error_message = "node_count must be at least 2."
  }
}

variable "public_endpoint" {
  description = "Expose the API server publicly (for terraform/kubectl from outside the VPC); it always has a private endpoint."
  type        = bool
  default     = true
}

variable "namespace" {
  description = "Namespace of the platform's workloads."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label."
  }
}

variable "service_account" {
  description = "Kubernetes service account the workloads run as."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.service_account))
    error_message = "service_account must be a DNS label."
  }
}

variable "workload_role_arn" {
  description = "IAM role the service account's pods assume (Pod Identity)."
  type        = string

  validation {
    condition     = startswith(var.workload_role_arn, "arn:")
    error_message = "workload_role_arn must be an ARN."
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

