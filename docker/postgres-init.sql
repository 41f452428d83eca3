-- One database per component, created on the first start of the PostgreSQL volume.
CREATE DATABASE airflow;
CREATE DATABASE superset;
CREATE DATABASE envlake_access;
CREATE DATABASE envlake_iceberg;
