# meshc's bundle of VM db (its home cluster and identity)
cluster='hub'
service_account='mysql'
