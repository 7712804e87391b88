"""Stage 4: the record in MLflow. ``names`` owns every tag, metric and artifact name; ``store``
binds a client to a store and experiment; ``parent`` opens, resumes and closes parent runs."""
