output "app_user" {
  description = "Login of the application (MARKETPULSE_POSTGRES__USER)."
  value       = postgresql_role.this["app"].name
}

output "powerbi_user" {
  description = "Read-only login for Power BI."
  value       = postgresql_role.this["powerbi"].name
}

output "databases" {
  description = "Databases owned by the app role."
  value       = sort(keys(postgresql_database.this))
}
