output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "Private subnets, one per zone."
  value       = aws_subnet.private[*].id
}

output "security_group_id" {
  description = "Security group that lets components reach each other inside the VPC."
  value       = aws_security_group.this.id
}

output "public_subnet_ids" {
  description = "Public subnets (the services' load balancer)."
  value       = aws_subnet.public[*].id
}

output "cidr_block" {
  description = "Address range of the VPC."
  value       = var.cidr_block
}
