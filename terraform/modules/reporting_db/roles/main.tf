# Roles and databases on the reporting server, the same on RDS, Cloud SQL and Flexible Server:
# - the app role owns the `marketpulse` and `airflow` databases (its migrations create the tables);
# - the Power BI role may connect and read, including tables the app creates later (default privileges).
# Needs network reach to the server, like the topics: run where the VPC/VNet is reachable.
resource "postgresql_role" "this" {
  for_each = {
    app     = { name = var.app_user, password = var.app_password }
    powerbi = { name = var.powerbi_user, password = var.powerbi_password }
  }
  name             = each.value.name
  password         = each.value.password
  login            = true
  connection_limit = each.key == "powerbi" ? 10 : -1
}

resource "postgresql_database" "this" {
  for_each = toset(var.databases)
  name     = each.value
  owner    = postgresql_role.this["app"].name
}

resource "postgresql_grant" "connect" {
  database    = postgresql_database.this[var.databases[0]].name
  role        = postgresql_role.this["powerbi"].name
  object_type = "database"
  privileges  = ["CONNECT"]
}

resource "postgresql_grant" "usage" {
  database    = postgresql_database.this[var.databases[0]].name
  role        = postgresql_role.this["powerbi"].name
  schema      = "public"
  object_type = "schema"
  privileges  = ["USAGE"]
}

resource "postgresql_grant" "select" {
  database    = postgresql_database.this[var.databases[0]].name
  role        = postgresql_role.this["powerbi"].name
  schema      = "public"
  object_type = "table"
  privileges  = ["SELECT"]
}

resource "postgresql_default_privileges" "this" {
  database    = postgresql_database.this[var.databases[0]].name
  role        = postgresql_role.this["powerbi"].name
  owner       = postgresql_role.this["app"].name
  schema      = "public"
  object_type = "table"
  privileges  = ["SELECT"]
}
