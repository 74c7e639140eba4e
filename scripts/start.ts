// `npm start`: the product's main command. Serves the web app on PORT (default 3000) over the data
// directory and model from the environment (VIDSEARCH_HOME, VIDSEARCH_MODEL, ...).
import { serve } from './serve';

process.exitCode = await serve();
