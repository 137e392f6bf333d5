output "retention_days" {
  description = "Topic => retention in whole days the service will keep (at most the tier's cap)."
  value       = { for name, days in local.wanted_days : name => min(days, local.cap.days) }
}

output "partitions" {
  description = "Partitions every topic gets (at most the tier's cap)."
  value       = min(var.partitions, local.cap.partitions)
}

output "capped_topics" {
  description = "Topics whose catalog retention is longer than the tier keeps, sorted."
  value       = sort([for name, days in local.wanted_days : name if days > local.cap.days])
}

output "max_retention_days" {
  description = "The tier's retention cap, days."
  value       = local.cap.days
}
