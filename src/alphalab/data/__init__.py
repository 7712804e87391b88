"""Stage 2: the task's data. ``sources`` makes or reads it (synthetic, the user's CSV or NPZ
file, the user's loader function); ``arrays`` checks what a file or loader returned;
``task_data`` splits it and standardises it on the training rows."""
