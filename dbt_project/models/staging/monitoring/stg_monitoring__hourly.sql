{{ monitoring_staging('monitoring_hourly') }}
