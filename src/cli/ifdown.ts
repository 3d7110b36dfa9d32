import { ifUpDown } from './ifupdown.js';
export default ifUpDown('ifdown');
