output "host" {
  description = "Private IP of the instance (MARKETPULSE_POSTGRES__HOST)."
  value       = google_sql_database_instance.this.private_ip_address
}

output "port" {
  description = "PostgreSQL port."
  value       = 5432
}

output "admin_user" {
  description = "Built-in admin user (roles and databases are made with it; the app never uses it)."
  value       = google_sql_user.this.name
}

output "server_ca" {
  description = "PEM of the instance's server CA (trust it in the Power BI gateway and in verify-full clients)."
  value       = google_sql_database_instance.this.server_ca_cert[0].cert
}
