output "values" {
  description = "Name => generated password."
  value       = { for name, p in random_password.this : name => p.result }
  sensitive   = true
}
